"""The HTTP API (``parcelguard serve``): FastAPI over the reveal service and the audit log.

See ``docs/api.md`` for the endpoints, the token format and the error types.
"""

from parcelguard.api.app import ApiContext, app_from_env, create_app, open_context

__all__ = ["ApiContext", "app_from_env", "create_app", "open_context"]
