"""A link with a round-trip time, for the benchmark: two network
namespaces of our own, each with a TUN device, joined by this process,
which holds every packet for half the round-trip time each way.  The
kernel here has no sch_netem; delaying whole IP packets (not a TCP proxy)
keeps the clients' own TCP behaviour, Nagle and delayed ACKs included, in
what is measured.  Addresses are TEST-NET-1 (192.0.2.0/24), inside the
namespaces only.

usage: rttlink.py up|down            (set up / remove the namespaces)
       rttlink.py run RTT_MS         (forward until killed)
"""
import ctypes
import fcntl
import heapq
import os
import select
import struct
import subprocess
import sys
import time

CLIENT_NS, HUB_NS = "ssmtpbench-c", "ssmtpbench-h"
CLIENT_IP, HUB_IP = "192.0.2.1", "192.0.2.2"
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, timeout=30)


def up():
    down()
    for ns, dev, me, peer in ((CLIENT_NS, "tc", CLIENT_IP, HUB_IP),
                              (HUB_NS, "th", HUB_IP, CLIENT_IP)):
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "tuntap", "add", "dev", dev, "mode", "tun")
        ip("-n", ns, "addr", "add", me, "peer", peer, "dev", dev)
        ip("-n", ns, "link", "set", dev, "up")


def down():
    for ns in (CLIENT_NS, HUB_NS):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def open_tun(ns, dev):
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open("/run/netns/" + ns, os.O_RDONLY)
    if libc.setns(there, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + ns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    libc.setns(home, CLONE_NEWNET)
    os.close(home)
    os.close(there)
    return fd


def run(rtt_ms):
    half = rtt_ms / 2000.0
    a, b = open_tun(CLIENT_NS, "tc"), open_tun(HUB_NS, "th")
    other = {a: b, b: a}
    queue, seq = [], 0
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            os.write(fd, pkt)
        wait = max(0.0, queue[0][0] - now) if queue else 1.0
        ready, _, _ = select.select([a, b], [], [], wait)
        now = time.monotonic()
        for fd in ready:
            pkt = os.read(fd, 65536)
            seq += 1
            heapq.heappush(queue, (now + half, seq, other[fd], pkt))


if __name__ == "__main__":
    {"up": lambda: up(), "down": lambda: down(),
     "run": lambda: run(float(sys.argv[2]))}[sys.argv[1]]()
