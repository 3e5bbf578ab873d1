#!/usr/bin/env bash
# pyspark needs a Java runtime (17 or 21 for pyspark 4.0): install Debian's when none is on PATH.
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi
java -version
