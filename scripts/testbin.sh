# Sourced by the test scripts: where test binaries are built and kept.
#
# go test -c and go build relink a binary only when one of its inputs
# changed, and with -trimpath those inputs do not include the checkout's
# path. The binaries are built into one store per machine
# (~/.cache/procblocking/test-binaries), so that a fresh clone of a commit
# already tested links nothing, and run from hard links to them in the
# checkout's bin/test/: go replaces a file of the store rather than
# rewriting it, so another checkout's build never changes a binary this run
# executes.

# testbin_store NAME: the store's directory NAME, made if missing. The
# caller holds its lock (testbin_lock) while it builds and takes its
# binaries.
testbin_store() {
  local dir=${XDG_CACHE_HOME:-$HOME/.cache}/procblocking/test-binaries/$1
  mkdir -p "$dir" && echo "$dir"
}

# testbin_lock DIR: waits for, then holds, the lock of a store directory on
# file descriptor 9 until the script exits or runs `exec 9>&-`.
testbin_lock() {
  exec 9>"$1/lock" && flock 9
}

# testbin_take SRC DST: DST becomes SRC's binary, whole: a hard link, or a
# copy where the checkout is on another filesystem.
testbin_take() {
  [ "$1" -ef "$2" ] && return 0 # unchanged since the last run took it
  mkdir -p "$(dirname "$2")"
  ln -f "$1" "$2.new" 2>/dev/null || cp -f "$1" "$2.new" || return 1
  mv -f "$2.new" "$2"
}

# testbin_build STORE NAME DST GO-TEST-ARGS...: `go test -c -trimpath
# -vet=off` of one package into the store's NAME while holding the store's
# lock; DST then becomes that binary.
testbin_build() {
  local store=$1 name=$2 dst=$3 rc=0
  shift 3
  testbin_lock "$store" || return 1
  go test -c -trimpath -vet=off -o "$store/$name" "$@" && testbin_take "$store/$name" "$dst" || rc=1
  exec 9>&-
  return "$rc"
}
