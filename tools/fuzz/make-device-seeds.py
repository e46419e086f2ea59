#!/usr/bin/env python3
"""Writes the starting corpus for the device fuzz target (tests/VirtioScope.Testing/DeviceFuzzTarget.cs).

Input layout: byte 0 = mode (1 legacy, 2 packed, 4 event idx, 8 indirect, 16 config WCE), then 1024 bytes copied
over guest memory at 0x4000_0000 (descriptor table at +0, driver area at +256, device area at +512), then 8-byte
operations: kind (0 read, 1 write, 2 poke u32, 3 notify), width selector, u16 offset, u32 value.
"""
import os
import struct
import sys

BASE = 0x4000_0000
HDR, STATUS, DATA = BASE + 0x300, BASE + 0x3F0, BASE + 0x8000


def split_desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def packed_desc(addr, length, ident, flags):
    return struct.pack("<QIHH", addr, length, ident, flags)


def image(descs, driver, header=(0, 0)):
    mem = bytearray(1024)
    table = b"".join(descs)
    mem[0:len(table)] = table
    mem[256:256 + len(driver)] = driver
    mem[0x300:0x310] = struct.pack("<IIQ", header[0], 0, header[1])
    return bytes(mem)


def ops(*items):
    return b"".join(struct.pack("<BBHI", *i) for i in items)


NOTIFY = (3, 0, 0, 0)
NEXT, WRITE, INDIRECT, AVAIL = 1, 2, 4, 0x80

seeds = {
    # IN request on a split ring: header, 4 KiB data, status.
    "split-read": (4, image([split_desc(HDR, 16, NEXT, 1), split_desc(DATA, 4096, NEXT | WRITE, 2), split_desc(STATUS, 1, WRITE, 0)],
                            struct.pack("<HHH", 0, 1, 0), (0, 8)), ops(NOTIFY)),
    # OUT request on a packed ring.
    "packed-write": (2 | 4, image([packed_desc(HDR, 16, 7, NEXT | AVAIL), packed_desc(DATA, 512, 7, NEXT | AVAIL), packed_desc(STATUS, 1, 7, WRITE | AVAIL)],
                                  b"", (1, 3)), ops(NOTIFY)),
    # Legacy transport, flush.
    "legacy-flush": (1, image([split_desc(HDR, 16, NEXT, 1), split_desc(STATUS, 1, WRITE, 0)], struct.pack("<HHH", 0, 1, 0), (4, 0)), ops(NOTIFY)),
    # A chain that loops back to its head.
    "split-loop": (0, image([split_desc(HDR, 16, NEXT, 1), split_desc(DATA, 512, NEXT | WRITE, 0)], struct.pack("<HHH", 0, 1, 0), (0, 0)), ops(NOTIFY)),
    # An indirect table whose length is not a multiple of 16.
    "indirect-bad-length": (8, image([split_desc(BASE + 0x380, 40, INDIRECT, 0)], struct.pack("<HHH", 0, 1, 0), (0, 0)), ops(NOTIFY)),
    # Avail index far ahead of the device, then register noise.
    "avail-jump": (4 | 8, image([], struct.pack("<HH", 0, 900)), ops(NOTIFY, (1, 2, 0x70, 0), (0, 2, 0x60, 0), (1, 2, 0x70, 15), NOTIFY)),
    # Discard with the unmap flag (must be UNSUPP), write-zeroes past capacity.
    "ranges": (4, image([split_desc(HDR, 16, NEXT, 1), split_desc(BASE + 0x3A0, 32, NEXT, 2), split_desc(STATUS, 1, WRITE, 0)],
                        struct.pack("<HHH", 0, 1, 0), (11, 0)), ops((2, 0, 0x3A0, 0), (2, 0, 0x3A8, 8), (2, 0, 0x3AC, 1), NOTIFY)),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fuzz-corpus", "device")
os.makedirs(out, exist_ok=True)
for name, (mode, mem, tail) in seeds.items():
    with open(os.path.join(out, name + ".bin"), "wb") as f:
        f.write(bytes([mode]) + mem + tail)
print(f"wrote {len(seeds)} seeds to {out}")
