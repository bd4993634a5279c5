# llmmeter: production image (PostgreSQL + Redis; see docker-compose.yml)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    LLMMETER_HOST=0.0.0.0 LLMMETER_PORT=8000 LLMMETER_ENVIRONMENT=production
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /app --create-home llmmeter
WORKDIR /app
USER llmmeter
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "llmmeter migrate && exec llmmeter serve"]
