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
# And the youngest generation is collected after 10,000 new objects rather than 700: a request's objects
# mostly die with it, by reference counting, so collecting them sooner walked them for nothing (the slot
# search's 200 slots and its thousand-row reads set off three collections a request).
gc.set_threshold(10_000, 10, 10)
