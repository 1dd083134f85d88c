# Startklaar production image: API + PWA (+ embedded worker unless STARTKLAAR_EMBEDDED_WORKER=false).
#   docker build -t startklaar .
#   docker run -p 8000:8000 -v startklaar-data:/data \
#     -e STARTKLAAR_SECRET_KEY=... -e STARTKLAAR_BASE_URL=https://startklaar.example.nl startklaar
# PostgreSQL: add -e STARTKLAAR_DATABASE_URL=postgresql+psycopg://user:pass@host:5432/startklaar
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STARTKLAAR_ENV=production \
    STARTKLAAR_DATA_DIR=/data \
    STARTKLAAR_HOST=0.0.0.0 \
    STARTKLAAR_PORT=8000 \
    WEB_CONCURRENCY=2 \
    FORWARDED_ALLOW_IPS=*

RUN useradd --create-home --uid 10001 startklaar && mkdir /data && chown startklaar:startklaar /data

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY backend ./backend
COPY migrations ./migrations
COPY frontend ./frontend
COPY sociale_kaart ./sociale_kaart
# Editable install keeps frontend/, migrations/ and sociale_kaart/ next to the package, where the app looks.
RUN pip install -e . && python -c "import backend.app"

USER startklaar
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"

# Migrate once, then serve with proxy headers (TLS ends at the load balancer).
CMD ["sh", "-c", "startklaar migrate && exec startklaar serve --no-migrate --workers ${WEB_CONCURRENCY}"]
