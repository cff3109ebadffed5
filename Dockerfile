# telegraf-procblocking: a static binary on an empty base, run as uid 65532.
# The watchdog only reads world-readable /proc files, so it needs no
# capabilities; give it the host's PID namespace (`pid: host`) or mount the
# host's /proc and point HOST_PROC at it.
#
#   make image            (or: docker build --build-arg VERSION=$(git describe --tags --always --dirty) .)
#
# Plain Dockerfile syntax: it builds as it is under Docker's classic builder
# (docker-compose 1.29's default) and BuildKit (Docker 23+, Compose v2). The
# modules are downloaded in a layer of their own, so a rebuild after a source
# change downloads nothing.

# Pinned to a release that satisfies go.mod's `go` line: the image sets
# GOTOOLCHAIN=local, so an older Go would stop rather than fetch a newer one.
FROM golang:1.26.8 AS build
WORKDIR /src
# A module proxy of your own (GOPROXY=https://goproxy.example,direct), for a
# build without access to proxy.golang.org.
ARG GOPROXY
# Only the modules the binary is built from (image-modules.txt, which
# `make lint` keeps current), at go.mod's versions: a sixth of what go.mod's
# graph names, the rest serving tests and plugins the default build leaves
# out. A module missing from the list would still be fetched by the build.
COPY go.mod go.sum image-modules.txt ./
RUN go mod download $(cat image-modules.txt)
COPY . .
# .dockerignore keeps .git out of the context: the version comes from here.
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /rootfs/usr/bin/telegraf-procblocking ./cmd/telegraf-procblocking
# All the runtime needs besides the binary: the CA bundle (Telegram and
# InfluxDB over https), a passwd naming uid 65532, and the state directory,
# owned by that uid so that a new named volume mounted there is writable.
RUN mkdir -p /rootfs/etc/ssl/certs /state \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group

# The runtime stage pulls nothing: an empty base holds no shell, no package
# manager and nothing else to patch.
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="telegraf-procblocking" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /state /var/lib/procblocking
USER 65532:65532
ENTRYPOINT ["/usr/bin/telegraf-procblocking"]
CMD ["--config", "/etc/telegraf/telegraf.conf"]
