# One image for web, worker, beat and the migrate job (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TZ=UTC

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files (admin, Swagger UI) collected, hashed and compressed into the image: gunicorn
# serves them through whitenoise. Settings need DEBUG off (the manifest storage) and a valid
# secret key, so a throwaway one is generated for this step only; no database is touched.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DATABASE_URL=postgres://collectstatic@localhost:5432/unused \
    python manage.py collectstatic --noinput
RUN useradd --create-home --uid 10001 app && chown -R app /app
USER app

EXPOSE 8000
CMD ["gunicorn", "vancelian.wsgi:application", "--bind", "0.0.0.0:8000"]
