# syntax=docker/dockerfile:1
# pullpush: one static binary on distroless (CA certificates, tzdata,
# non-root user 65532, no shell).
#   docker build -t pullpush --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 8080:8080 pullpush            # the demo on http://localhost:8080/
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/pullpush/pullpush/internal/buildinfo.version=${VERSION}" \
      -o /out/pullpush ./cmd/pullpush \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pullpush /usr/local/bin/pullpush
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
# demo and serve 8080, origin 8090, keys 8091, channel 8000
EXPOSE 8080 8090 8091 8000
ENTRYPOINT ["pullpush"]
CMD ["demo", "--listen", "0.0.0.0:8080"]
