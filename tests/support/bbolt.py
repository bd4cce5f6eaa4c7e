"""Write bbolt (go.etcd.io/bbolt) database files from nested Python dicts.

Only writing is supported: the tests build a fixture vulnerability DB and let
the real trivy read it. The layout follows bbolt's on-disk format (file format
version 2, little-endian, as written on amd64/arm64):

  page header   id u64 | flags u16 | count u16 | overflow u32          (16 bytes)
  meta          magic u32 | version u32 | page_size u32 | flags u32 |
                root {pgid u64, sequence u64} | freelist u64 | pgid u64 |
                txid u64 | checksum u64 (FNV-1a 64 over the 56 bytes before it)
  leaf element  flags u32 | pos u32 | ksize u32 | vsize u32           (16 bytes)
  branch elem.  pos u32 | ksize u32 | pgid u64                         (16 bytes)

`pos` is the distance from the element itself to its key; the value follows the
key. A nested bucket is a leaf element with the bucket flag whose value is the
bucket header {root pgid u64, sequence u64}. Pages 0 and 1 are the two meta
pages, page 2 an empty freelist, the rest the B+tree of every bucket: keys
sorted bytewise, split across leaf pages, with branch pages above them when a
bucket needs more than one leaf. A node larger than a page spills into
overflow pages, as bbolt does for large values.

    write_bbolt(path, {"bucket": {"key": b"value", "nested": {"k": "v"}}})

A dict is a bucket; bytes or str is a value (str is UTF-8 encoded).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Union

MAGIC = 0xED0CDAED
FORMAT_VERSION = 2
DEFAULT_PAGE_SIZE = 4096

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
BUCKET_LEAF_FLAG = 0x01

PAGE_HEADER = struct.Struct("<QHHI")
LEAF_ELEMENT = struct.Struct("<IIII")
BRANCH_ELEMENT = struct.Struct("<IIQ")
BUCKET_HEADER = struct.Struct("<QQ")
META = struct.Struct("<IIII QQ QQQ")  # everything the checksum covers (56 bytes)

FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3

Tree = Mapping[Union[str, bytes], Union["Tree", str, bytes]]


def fnv1a_64(data: bytes) -> int:
    """Return the 64-bit FNV-1a hash of data (what bbolt's meta checksum uses)."""
    h = FNV64_OFFSET
    for byte in data:
        h ^= byte
        h = (h * FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def _as_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"bbolt keys and values are bytes or str, not {type(value).__name__}")


class _Writer:
    """Lays out pages; page ids are handed out in the order nodes are written."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.pages: list[bytes] = []  # one entry per page id, overflow pages included

    def next_pgid(self) -> int:
        return len(self.pages)

    def add_node(self, flags: int, elements: list[bytes], data: bytes) -> int:
        """Write one node (header + elements + key/value data); return its page id."""
        pgid = self.next_pgid()
        size = PAGE_HEADER.size + sum(len(e) for e in elements) + len(data)
        npages = max(1, -(-size // self.page_size))
        header = PAGE_HEADER.pack(pgid, flags, len(elements), npages - 1)
        body = header + b"".join(elements) + data
        body += b"\0" * (npages * self.page_size - len(body))
        for i in range(npages):
            self.pages.append(body[i * self.page_size : (i + 1) * self.page_size])
        return pgid

    def reserve(self, count: int) -> None:
        self.pages.extend(b"\0" * self.page_size for _ in range(count))

    def put(self, pgid: int, page: bytes) -> None:
        self.pages[pgid] = page.ljust(self.page_size, b"\0")


def _leaf_node(items: list[tuple[bytes, bytes, int]]) -> tuple[list[bytes], bytes]:
    """Elements and data of a leaf holding (key, value, flags) items."""
    elements: list[bytes] = []
    data = bytearray()
    first_data = len(items) * LEAF_ELEMENT.size
    for i, (key, value, flags) in enumerate(items):
        pos = first_data + len(data) - i * LEAF_ELEMENT.size
        elements.append(LEAF_ELEMENT.pack(flags, pos, len(key), len(value)))
        data += key + value
    return elements, bytes(data)


def _branch_node(children: list[tuple[bytes, int]]) -> tuple[list[bytes], bytes]:
    """Elements and data of a branch pointing at (first key, child pgid) children."""
    elements: list[bytes] = []
    data = bytearray()
    first_data = len(children) * BRANCH_ELEMENT.size
    for i, (key, pgid) in enumerate(children):
        pos = first_data + len(data) - i * BRANCH_ELEMENT.size
        elements.append(BRANCH_ELEMENT.pack(pos, len(key), pgid))
        data += key
    return elements, bytes(data)


def _chunks(sizes: list[int], page_size: int) -> list[tuple[int, int]]:
    """Split items of the given sizes into [start, end) runs that fill one page each.

    A run holds at least one item; an item too big for a page gets a run of its
    own (its node then spills into overflow pages).
    """
    runs: list[tuple[int, int]] = []
    start = 0
    used = PAGE_HEADER.size
    for i, size in enumerate(sizes):
        if i > start and used + size > page_size:
            runs.append((start, i))
            start = i
            used = PAGE_HEADER.size
        used += size
    runs.append((start, len(sizes)))
    return runs


def _write_bucket(writer: _Writer, tree: Tree) -> int:
    """Write a bucket (and, first, its sub-buckets); return its root page id."""
    items: list[tuple[bytes, bytes, int]] = []
    for raw_key, value in tree.items():
        key = _as_bytes(raw_key)
        if not key:
            raise ValueError("bbolt keys cannot be empty")
        if isinstance(value, Mapping):
            root = _write_bucket(writer, value)
            items.append((key, BUCKET_HEADER.pack(root, 0), BUCKET_LEAF_FLAG))
        else:
            items.append((key, _as_bytes(value), 0))
    items.sort(key=lambda item: item[0])
    for previous, current in zip(items, items[1:]):
        if previous[0] == current[0]:
            raise ValueError(f"duplicate key {current[0]!r}")

    sizes = [LEAF_ELEMENT.size + len(k) + len(v) for k, v, _ in items]
    level: list[tuple[bytes, int]] = []
    for start, end in _chunks(sizes, writer.page_size):
        run = items[start:end]
        elements, data = _leaf_node(run)
        level.append((run[0][0] if run else b"", writer.add_node(LEAF_PAGE, elements, data)))

    while len(level) > 1:
        sizes = [BRANCH_ELEMENT.size + len(key) for key, _ in level]
        parents: list[tuple[bytes, int]] = []
        for start, end in _chunks(sizes, writer.page_size):
            run = level[start:end]
            elements, data = _branch_node(run)
            parents.append((run[0][0], writer.add_node(BRANCH_PAGE, elements, data)))
        level = parents
    return level[0][1]


def _meta_page(page_size: int, txid: int, root: int, freelist: int, high_water: int) -> bytes:
    meta = META.pack(MAGIC, FORMAT_VERSION, page_size, 0, root, 0, freelist, high_water, txid)
    checksum = fnv1a_64(meta)
    return PAGE_HEADER.pack(txid % 2, META_PAGE, 0, 0) + meta + struct.pack("<Q", checksum)


def build_bbolt(tree: Tree, page_size: int = DEFAULT_PAGE_SIZE) -> bytes:
    """Return the bytes of a bbolt file holding tree (top-level values must be buckets)."""
    for name, value in tree.items():
        if not isinstance(value, Mapping):
            raise ValueError(f"top-level entry {name!r} must be a bucket (a dict)")
    writer = _Writer(page_size)
    writer.reserve(2)  # meta pages, filled in last
    freelist = writer.add_node(FREELIST_PAGE, [], b"")
    root = _write_bucket(writer, tree)
    high_water = writer.next_pgid()
    for txid in (0, 1):
        writer.put(txid, _meta_page(page_size, txid, root, freelist, high_water))
    return b"".join(writer.pages)


def write_bbolt(path: str | os.PathLike[str], tree: Tree, page_size: int = DEFAULT_PAGE_SIZE) -> Path:
    """Write tree to a new bbolt file at path; return the path."""
    target = Path(path)
    target.write_bytes(build_bbolt(tree, page_size))
    return target
