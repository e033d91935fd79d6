import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the apps, their modules: about 130,000 objects) lives as long as the
# worker. Frozen, the collector stops walking it on every full collection: a slot search allocates enough
# to set one off every few requests, and each walk took tens of milliseconds (the slow tail of the
# benchmark's slot search; bench/README figures).
gc.freeze()
