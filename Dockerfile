# syntax=docker/dockerfile:1
# Multi-stage build: a static (CGO_ENABLED=0, pure-Go SQLite) binary on
# distroless, running as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -tags nomsgpack \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/alertgram ./cmd/alertgram \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/alertgram /usr/local/bin/alertgram
# SQLite lives here by default in the container; mount a volume on it.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/alertgram"]
CMD ["serve", "--config", "/etc/alertgram/alertgram.yml"]
