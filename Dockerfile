# syntax=docker/dockerfile:1
# slogate container image: a static binary on distroless, as user 65532.
#
#   docker build -t slogate .
#   docker run -p 8490:8490 slogate -upstream.url=http://victoria-metrics:8428
#
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 .
# (the builder runs natively and cross-compiles; no emulation needed).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first, so that source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: a static binary for a base image without libc. -trimpath
# keeps build paths out of the binary (reproducible builds); -s -w drops the
# symbol table and DWARF (smaller image; stack traces keep function names).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/slogate ./cmd/slogate
# The state directory, owned by the runtime user: distroless has no shell
# to create it at run time.
RUN mkdir -p /out/state

# distroless/static: CA certificates, tzdata (contract time zones need it),
# /etc/passwd with the nonroot user, no shell, no package manager.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/slogate /slogate
COPY --from=build --chown=65532:65532 /out/state /var/lib/slogate
# Default -stateDir; a flag overrides it. Mount a volume here to keep state
# (snapshots, maintenance windows, audit log) across restarts.
ENV SLOGATE_STATE_DIR=/var/lib/slogate
VOLUME /var/lib/slogate
USER 65532:65532
EXPOSE 8490
ENTRYPOINT ["/slogate"]
