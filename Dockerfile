# telegraf-procblocking: a static binary on a distroless base, run as non-root.
# The watchdog only reads world-readable /proc files, so it needs no
# capabilities; give it the host's PID namespace (`pid: host`) or mount the
# host's /proc and point HOST_PROC at it.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/telegraf-procblocking ./cmd/telegraf-procblocking \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/telegraf-procblocking /usr/bin/telegraf-procblocking
# The state volume's mount point, owned by the runtime user so that a fresh
# named volume inherits a writable directory.
COPY --from=build --chown=65532:65532 /out/state /var/lib/procblocking
USER 65532:65532
ENTRYPOINT ["/usr/bin/telegraf-procblocking"]
CMD ["--config", "/etc/telegraf/telegraf.conf"]
