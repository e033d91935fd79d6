# SpineDesk image: one image for every role (web, worker, beat, migrate); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Only what the app needs at run time (not .venv/, var/, staticfiles/ or .git/ from a developer's checkout).
COPY manage.py pyproject.toml ./
COPY clinic/ clinic/
COPY procedures/ procedures/
COPY templates/ templates/

# Static files are collected into the image and served by whitenoise. The key is a throwaway for this step
# only: it is not kept in the image's environment, and the running container must get DJANGO_SECRET_KEY.
RUN DJANGO_SECRET_KEY=collectstatic-build-step-only-not-a-secret python manage.py collectstatic --noinput -v0

# Run as an unprivileged user; var/ (beat schedule, local state) is the only folder it writes to.
RUN groupadd --system spinedesk \
    && useradd --system --gid spinedesk --home-dir /app --no-create-home --shell /usr/sbin/nologin spinedesk \
    && mkdir -p /app/var \
    && chown -R spinedesk:spinedesk /app/var
USER spinedesk

EXPOSE 8000
# Worker processes come from WEB_CONCURRENCY (gunicorn reads it; default 1).
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
