"""Give the contract's Python modules their own import root: ``docwire_contract.v1``.

protoc names each Python module after its ``.proto`` file's path, so
``proto/docwire/v1/request.proto`` would become ``docwire.v1.request_pb2``: a
subpackage of the server's ``docwire`` package, shipped by another distribution.
This step renames the contract's files inside the buf image (``docwire/v1/x.proto``
-> ``docwire_contract/v1/x.proto``, imports included) before protoc runs, and Jina's
method paths (``jina/jina.proto``) to ``docwire_contract/jina/jina.proto``, where they
cannot shadow the real ``jina`` package. Only file names change: the proto packages stay
``docwire.v1`` and ``jina``, so message names, gRPC method paths and the wire are the ones
every other language generates.

    python sdk_gen/python/reroot.py IMAGE_IN IMAGE_OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

#: Source directory -> the directory protoc should see instead.
ROOTS = {"docwire/": "docwire_contract/", "jina/": "docwire_contract/jina/"}


def rerooted(file_name: str) -> str:
    """The file name protoc should see for ``file_name``: the contract's files move to the Python root."""
    for source, python in ROOTS.items():
        if file_name.startswith(source):
            return python + file_name.removeprefix(source)
    return file_name


def reroot(image: descriptor_pb2.FileDescriptorSet) -> None:
    """Rename the contract's files and every import of them, in place."""
    for file in image.file:
        file.name = rerooted(file.name)
        file.dependency[:] = [rerooted(name) for name in file.dependency]


def main(argv: list[str]) -> None:
    source, target = (Path(arg) for arg in argv)
    image = descriptor_pb2.FileDescriptorSet.FromString(source.read_bytes())
    reroot(image)
    target.write_bytes(image.SerializeToString(deterministic=True))


if __name__ == "__main__":
    main(sys.argv[1:])
