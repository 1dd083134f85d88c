# Startklaar production image: API + PWA (+ embedded worker unless STARTKLAAR_EMBEDDED_WORKER=false).
#   docker build -t startklaar .
#   docker run -p 8000:8000 -v startklaar-data:/data \
#     -e STARTKLAAR_SECRET_KEY=... -e STARTKLAAR_BASE_URL=https://startklaar.example.nl startklaar
# PostgreSQL: add -e STARTKLAAR_DATABASE_URL=postgresql+psycopg://user:pass@host:5432/startklaar
# Behind a load balancer: add -e STARTKLAAR_TRUSTED_PROXIES=<its address or network> (README, "Production").
# No proxy is trusted by default: X-Forwarded-For from anyone else is ignored.
#
# BASE: any Debian-like image with python3 (>= 3.11) and its venv module; CI (.ci/image) builds from a base
# made locally with debootstrap. Everything is installed into /opt/venv, so `python`/`pip` need not be on the
# base's PATH. A CA bundle for pip can be passed as a build secret (never stored in the image):
#   podman build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt .
ARG BASE=python:3.12-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    STARTKLAAR_ENV=production \
    STARTKLAAR_DATA_DIR=/data \
    STARTKLAAR_HOST=0.0.0.0 \
    STARTKLAAR_PORT=8000 \
    WEB_CONCURRENCY=2

RUN useradd --create-home --uid 10001 startklaar && mkdir /data && chown startklaar:startklaar /data \
 && python3 -m venv /opt/venv

WORKDIR /app
# Dependencies first (their own layer: rebuilt only when pyproject.toml changes), then the code.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip-ca,target=/run/secrets/pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install 'setuptools>=68' -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY README.md alembic.ini ./
COPY backend ./backend
COPY migrations ./migrations
COPY frontend ./frontend
COPY sociale_kaart ./sociale_kaart
# Editable install keeps frontend/, migrations/ and sociale_kaart/ next to the package, where the app looks.
RUN pip install --no-deps --no-build-isolation -e . && python -c "import backend.app"

USER startklaar
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STARTKLAAR_PORT', '8000') + '/healthz', timeout=4)"

# Migrate once, then serve. Forwarded headers count only from STARTKLAAR_TRUSTED_PROXIES (default: none).
CMD ["sh", "-c", "startklaar migrate && exec startklaar serve --no-migrate --workers ${WEB_CONCURRENCY}"]
