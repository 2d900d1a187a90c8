#!/usr/bin/env bash
# Builds the HDFS harness (a MiniDFSCluster from Maven Central) into a cache outside the
# repo, with its own local Maven repository there. Rebuilt only when the pom or the harness
# source changes. Prints, on its last line, the java classpath that runs it.
#   build-hdfs.sh            build if missing, print the classpath
set -euo pipefail
cd "$(dirname "$0")"

CACHE=${DATALOCALITY_CACHE:-$HOME/.cache/datalocality}
KEY=$(cat pom.xml src/main/java/local/datalocality/*.java | sha256sum | cut -c1-12)
ROOT=$CACHE/hdfs-$KEY
JAR=$ROOT/target/hdfs-harness-1.jar
CLASSPATH_FILE=$ROOT/classpath.txt

print() { echo "$JAR:$(cat "$CLASSPATH_FILE")"; }
if [[ -f $JAR && -f $CLASSPATH_FILE ]]; then print; exit 0; fi
mkdir -p "$ROOT"
exec 9>"$ROOT/build.lock"  # one build at a time: make's and a test fixture's
flock 9
if [[ -f $JAR && -f $CLASSPATH_FILE ]]; then print; exit 0; fi

command -v mvn >/dev/null || { echo "build-hdfs: Maven (mvn) and Java 17 are needed: mvn is not on PATH" >&2; exit 1; }
start=$SECONDS
echo "[build-hdfs] hadoop-client-minicluster harness into $ROOT" >&2
mvn -q -B -Dmaven.repo.local="$CACHE/m2" -Dharness.out="$ROOT/target" -Dmaven.test.skip=true \
  package dependency:build-classpath -Dmdep.outputFile="$CLASSPATH_FILE.tmp" >&2
mv "$CLASSPATH_FILE.tmp" "$CLASSPATH_FILE"
echo "[build-hdfs] done in $((SECONDS - start)) s" >&2
print
