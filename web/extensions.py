"""Flask extensions, created once and bound to each app in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

#: CSRF on every POST/PUT/PATCH/DELETE; forms send the hidden field, fetch() the X-CSRFToken header
csrf = CSRFProtect()

#: in-memory, per process: only the login and setup forms are limited (failed attempts per client IP)
limiter = Limiter(get_remote_address, default_limits=[], storage_uri="memory://")
