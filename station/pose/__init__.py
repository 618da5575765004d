"""Pose estimators behind one interface (see :mod:`station.pose.base`)."""

from station.pose.base import PoseEstimator

__all__ = ["PoseEstimator"]
