"""The ASGI app: `uvicorn app.main:app`.

A missing or malformed environment variable stops the server here with one line naming it.
"""

from app.config import load_settings_or_exit
from app.factory import create_app

app = create_app(load_settings_or_exit())
