"""Opening an HDF5 file for reading, refusing the damage HDF5 itself would loop forever (or stall) on.

HDF5 1.14.6 parses a global heap collection (the "GCOL" blocks that hold variable-length strings, such as
Keras' `model_config`, `layer_names` and `weight_names` attributes) in H5HG__cache_heap_deserialize with a
loop that advances by each object's stored size. An object with index 0 and size 0, or a size that wraps the
64-bit sum to 0, never advances it: reading any variable-length string of that file then hangs (h5py and
real Keras alike). No check on the attribute helps, since the attribute itself may be intact and point into
the damaged collection, and h5py cannot read a variable-length string without loading its collection. So
before anything is read, every block in the file that HDF5 would accept as a collection (signature, version
1, size of at least 4096) is walked here the way HDF5 walks it; a walk that stalls, or that leaves the
collection or the file, is a corrupt file.

Second, HDF5 allocates and zeroes a buffer of a variable-length string's stored length (up to 4 GiB) before
it reads the string (H5T__conv_vlen), so one damaged length costs seconds and gigabytes before the read
fails. The attributes the legacy loader reads are found by their name in the file's bytes, their message
decoded as HDF5 decodes it, and their stored lengths checked against the file's size.

The weights of `.keras` and `.weights.h5` files are read without any variable-length string, so those skip
both checks (a damaged layer name there does not stop the load, as in Keras, and costs no scan).
"""
import mmap
import os
import re

_SIGNATURE = re.compile(b"GCOL\x01")  # version 1: HDF5 refuses any other version with an error
_MIN_SIZE = 4096  # H5HG_MINSIZE: HDF5 refuses smaller collections with an error (no hang)
# The variable-length string attributes the legacy loader reads: model_config, training_config, layer_names
# and weight_names (long lists are split into layer_names0, layer_names1, ...). Found by their ends, which
# one regex with a literal first byte scans fast, then their starts.
_NAME_END = re.compile(rb"_(?:config|names\d*)\x00")
_NAME_STARTS = (b"model", b"training", b"layer", b"weight")


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading weights requires h5py: pip install h5py") from e
    return h5py


def open_h5(source, what, strings=True):
    """h5py.File(source, "r"), after both checks if the caller will read variable-length strings (`strings`);
    a ValueError naming `what` if the file is damaged."""
    try:
        f = _h5py().File(source, "r")
    except (OSError, ValueError) as e:
        raise ValueError(f"Could not read {what}: not a valid HDF5 file (truncated or corrupt?). {e}") from None
    if not strings:
        return f
    try:
        addr_bytes, size_bytes = f.id.get_create_plist().get_sizes()  # widths of addresses and lengths
        problem = _with_bytes(source, lambda data: heap_problem(data, size_bytes)
                              or string_attribute_problem(data, size_bytes, addr_bytes))
    except BaseException:
        f.close()
        raise
    if problem:
        f.close()
        raise ValueError(f"Could not read {what}: the HDF5 file is corrupt ({problem}).")
    return f


def _with_bytes(source, fn):
    """fn(the file's bytes), mapped rather than read for a path."""
    if hasattr(source, "getbuffer"):
        with source.getbuffer() as data:
            return fn(data)
    with open(os.fspath(source), "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return fn(b"")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return fn(data)


def heap_problem(data, size_bytes=8):
    """A description of the first global heap collection HDF5 could not finish parsing, or None.
    `data` is the file's bytes (bytes, memoryview or mmap; the regex scans ~1.5 GB/s)."""
    for match in _SIGNATURE.finditer(data):
        problem = _collection_problem(data, match.start(), size_bytes)
        if problem:
            return f"global heap collection at byte {match.start()}: {problem}"
    return None


def _collection_problem(data, start, size_bytes):
    header = 8 + size_bytes  # signature, version, 3 reserved bytes, collection size
    if start + header > len(data):
        return None  # HDF5 refuses it with an error: not a collection it would walk
    size = _uint(data, start + 8, size_bytes)
    if size < _MIN_SIZE:
        return None
    if start + size > len(data):
        return f"its size {size} runs past the end of the file"
    object_header = 8 + size_bytes  # index (2), reference count (2), reserved (4), object size
    p = header
    while p < size:
        if p + object_header > size:
            break  # the tail too short for an object header is free space
        index = _uint(data, start + p, 2)
        length = _uint(data, start + p + 8, size_bytes)
        # Object 0 is the free space, stored unpadded; others are padded to 8 bytes after their header.
        need = length if index == 0 else object_header + (length + 7) // 8 * 8
        if need == 0 or p + need > size:
            return f"object {index} at offset {p} has size {length}"
        p += need
    return None


def string_attribute_problem(data, size_bytes=8, addr_bytes=8):
    """A description of the first attribute the legacy loader reads whose string lengths exceed the file."""
    stride = 4 + addr_bytes + 4  # each value: its length, its collection's address, its index there
    for name, values, count in string_attributes(data, size_bytes):
        where = f"attribute '{name}' with values at byte {values}"
        if values + count * stride > len(data):
            return f"{where}: its {count} values run past the end of the file"
        for i in range(count):
            length = _uint(data, values + i * stride, 4)
            if length > len(data):
                return f"{where}: string {i} has length {length}, more than the file holds"
    return None


def string_attributes(data, size_bytes=8):
    """[(name, offset of the values, number of values)] of the attribute messages the legacy loader reads
    that hold variable-length strings, decoded as HDF5 decodes them."""
    out = []
    for match in _NAME_END.finditer(data):
        for start in _NAME_STARTS:
            at = match.start() - len(start)
            if at >= 0 and data[at:match.start()] == start:
                found = _string_values(data, at, match.end() - at, size_bytes)
                if found:
                    out.append((bytes(data[at:match.end() - 1]).decode(), *found))
    return out


def _string_values(data, at, name_size, size_bytes):
    """(offset, count) of the values of the attribute message whose name starts at `at`, if it is one.
    The message: version, flags, name size (2 bytes), datatype size (2), dataspace size (2), in version 3 a
    character set (1), then name, datatype and dataspace, each padded to 8 bytes in version 1, then values."""
    for version, header, align in ((1, 8, 8), (2, 8, 1), (3, 9, 1)):
        start = at - header
        if start < 0 or data[start] != version or _uint(data, start + 2, 2) != name_size:
            continue
        if version > 1 and data[start + 1] & 3:
            return None  # a shared datatype or dataspace, stored elsewhere: not in files the loaders meet
        datatype = at + _pad(name_size, align)
        dataspace = datatype + _pad(_uint(data, start + 4, 2), align)
        values = dataspace + _pad(_uint(data, start + 6, 2), align)
        if values > len(data) or data[datatype] & 0x0F != 9 or data[datatype + 1] & 0x0F != 1:
            return None  # not a variable-length string (class 9, type 1)
        return values, _element_count(data, dataspace, size_bytes)
    return None


def _element_count(data, dataspace, size_bytes):
    version, rank = data[dataspace], data[dataspace + 1]
    if version == 2 and data[dataspace + 3] == 2:
        return 0  # the null dataspace
    dims = dataspace + (8 if version == 1 else 4)
    count = 1
    for i in range(rank):
        count *= _uint(data, dims + i * size_bytes, size_bytes)
    return count


def _pad(n, align):
    return (n + align - 1) // align * align


def _uint(data, at, width):
    return int.from_bytes(data[at:at + width], "little")
