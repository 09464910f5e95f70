#!/usr/bin/env bash
# bench.sh [etcdbench flags]: build bench.go (once per source version, into the
# git-ignored build/ beside this file) and run it.
# Needs Debian packages golang-go and golang-google-grpc-dev (grpc-go and its
# dependencies as GOPATH sources under /usr/share/gocode); no module proxy.
#   bench.sh -concurrency 64 -ops 50000 -mix put=1 -cpu-pids "$(cluster.sh pids)"
#   bench.sh --build    only build it (if needed) and print the binary's path
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sum=$(sha256sum "$here/bench.go" | cut -c1-12)
bin=$here/build/etcdbench-$sum
if [[ ! -x $bin ]]; then
  command -v go >/dev/null && [[ -d /usr/share/gocode/src/google.golang.org/grpc ]] ||
    { echo "bench.sh: need: apt-get install -y golang-go golang-google-grpc-dev" >&2; exit 2; }
  src=$(mktemp -d)
  cp "$here/bench.go" "$src/main.go"
  mkdir -p "$(dirname "$bin")"
  (cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o "$bin.tmp.$$" .) >&2
  mv "$bin.tmp.$$" "$bin"
  rm -rf -- "$src"
fi
if [[ ${1:-} == --build ]]; then echo "$bin"; exit 0; fi
exec "$bin" "$@"
