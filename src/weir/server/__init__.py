"""Weir's HTTP API: FastAPI routers over the run, trigger and user stores, with auth.

```python
from weir.server import create_app

app = create_app("path/to/project")          # serve with uvicorn, or `weir start PROJECT`
```

Every endpoint but the API-trigger ones needs `Authorization: Bearer <token>`: a session
token from `POST /api/sessions` or an API key from `POST /api/api_keys`. Roles: owner, editor,
viewer (read-only).
"""

from weir.server.app import create_app
from weir.server.auth import AuthStore, Principal, Role, UserRecord

__all__ = ["AuthStore", "Principal", "Role", "UserRecord", "create_app"]
