"""Hosts on one machine: network namespaces on a private bridge (ip netns, veth), and a TCP
forwarder that makes a loopback-only server (PostgreSQL) reachable from them.

All traffic stays on this machine: the bridge has no uplink, and the forwarder listens on
the bridge's own address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import shutil
import subprocess
import threading
import uuid


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root to make network namespaces"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns` is unavailable: {r.stderr.strip()[:200]}"
    return None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for _ in range(50):
        third = random.randrange(256)
        if f" 10.213.{third}." not in used:
            return ipaddress.IPv4Network(f"10.213.{third}.0/24")
    raise RuntimeError("no free 10.213.x.0/24 subnet for the test network")


class Network:
    """A bridge with an address of its own (the "gateway": where shared services listen)
    and one namespace per host, each with one veth on the bridge."""

    def __init__(self, hosts: list[str]) -> None:
        tag = uuid.uuid4().hex[:5]
        net = _free_subnet()
        addrs = list(net.hosts())
        self.bridge = f"scb{tag}"
        self.gateway = str(addrs[0])
        self.namespaces: dict[str, str] = {}
        self.addresses: dict[str, str] = {}
        self.links: dict[str, str] = {}
        try:
            ip("link", "add", "name", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for i, host in enumerate(hosts, start=1):
                ns, veth, peer = f"sc{tag}{host}"[:15], f"scv{tag}{i}", f"scp{tag}{i}"
                ip("netns", "add", ns)
                self.namespaces[host] = ns
                ip("link", "add", veth, "type", "veth", "peer", "name", peer)
                ip("link", "set", peer, "netns", ns)
                ip("link", "set", veth, "master", self.bridge)
                ip("link", "set", veth, "up")
                ip("-n", ns, "addr", "add", f"{addrs[i]}/24", "dev", peer)
                ip("-n", ns, "link", "set", peer, "up")
                ip("-n", ns, "link", "set", "lo", "up")
                self.addresses[host] = str(addrs[i])
                self.links[host] = veth
        except BaseException:
            self.close()
            raise

    def prefix(self, host: str) -> list[str]:
        """The command prefix that runs a program on ``host``."""
        return ["ip", "netns", "exec", self.namespaces[host]]

    def cut(self, host: str) -> None:
        """The host drops off the network."""
        ip("link", "set", self.links[host], "down")

    def close(self) -> None:
        for ns in self.namespaces.values():
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("netns", "del", ns)  # its veth pair goes with it
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", self.bridge)


class TcpForwarder:
    """Listens on ``host`` (a port of its choosing) and forwards each connection to
    ``target``; a loopback-only server becomes reachable from the test network without a
    change to its own configuration (listen address, pg_hba)."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, host, 0), self.loop
        ).result(10)
        self.host = host
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
