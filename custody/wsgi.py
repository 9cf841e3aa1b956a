import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custody.settings")
application = get_wsgi_application()

from custody.core.secret_key import refuse_to_serve_without_key  # noqa: E402  (after Django's setup)

refuse_to_serve_without_key()  # no server outside the demo and the tests without CUSTODY_SECRET_KEY
