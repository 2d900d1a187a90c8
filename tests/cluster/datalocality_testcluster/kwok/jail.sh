#!/bin/sh
# PID 1 of kwok's own PID and mount namespaces (unshare --pid --fork --mount --kill-child).
# It builds a root of read-only system directories (its /etc, with the pods' users, is
# written by the harness), a fresh /proc that shows only this
# namespace, and /airflow/xcom -> /proc/self/cwd/xcom (an exec'd command's working directory
# is its pod's directory), then runs kwok chrooted there.
# SIGINT, SIGTERM and SIGHUP are ignored: the kernel drops a signal that a namespace's PID 1
# does not handle, so the XCom sidecar's `kill` exec'd into a pod reaches no process of the
# machine. The harness ends everything by killing unshare, which kills this namespace.
set -eu
root=$1
shift
trap '' INT TERM HUP
for d in usr; do
  mkdir -p "$root/$d"
  mount --rbind "/$d" "$root/$d"
  mount -o remount,bind,ro "$root/$d"
done
for d in bin sbin lib lib64; do
  if [ -L "/$d" ]; then
    ln -sfn "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then
    mkdir -p "$root/$d"
    mount --rbind "/$d" "$root/$d"
    mount -o remount,bind,ro "$root/$d"
  fi
done
mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/airflow"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
chmod 1777 "$root/tmp"
ln -sfn /proc/self/cwd/xcom "$root/airflow/xcom"
chroot "$root" "$@" &
wait $!
