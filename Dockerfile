# One image for every service: `kyodo serve <service>` picks which one runs.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kyodo
COPY --from=build /install /usr/local
USER kyodo
WORKDIR /home/kyodo
ENV KYODO_HOST=0.0.0.0 \
    KYODO_DATA_DIR=/home/kyodo/var \
    PYTHONUNBUFFERED=1
EXPOSE 8101 8102 8103 8104 8105
ENTRYPOINT ["kyodo"]
CMD ["serve", "registry"]
