"""Regenerate `pisa_pb2.py` and `pisa_pb2_grpc.py` from `pisa.proto` (needs `grpcio-tools`).

Run from anywhere:

    python -m llemma_prove.provers.isabelle.regen_stubs

Two edits follow protoc, both so the committed stubs work inside this package and across the
supported runtimes (grpcio >= 1.63, protobuf >= 4.25), not only the versions that generated them:
- the stub imports its messages package-relatively (`from . import pisa_pb2`);
- the exact-version guards protoc writes (protobuf `ValidateProtobufRuntimeVersion`, the grpcio
  `GRPC_GENERATED_VERSION` check) are dropped; the stubs use only long-stable APIs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = HERE / "pisa.proto"


def _strip_pb2(text: str) -> str:
    text = text.replace("from google.protobuf import runtime_version as _runtime_version\n", "")
    return re.sub(r"_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:.*\n)*?\)\n", "", text)


def _strip_grpc(text: str) -> str:
    text = text.replace("import pisa_pb2 as pisa__pb2", "from . import pisa_pb2 as pisa__pb2")
    text = re.sub(r"\nGRPC_GENERATED_VERSION = .*?\n\n\n(?=class )", "\n\n\n", text, flags=re.S)
    return text.replace("import warnings\n", "")


def regenerate(out_dir: Path = HERE) -> list[Path]:
    """Run protoc on `pisa.proto` and post-process the two generated files."""
    from grpc_tools import protoc  # dev-only dependency, imported where it is needed

    args = [
        "grpc_tools.protoc",
        f"-I{PROTO.parent}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")
    pb2 = out_dir / "pisa_pb2.py"
    grpc_file = out_dir / "pisa_pb2_grpc.py"
    pb2.write_text(_strip_pb2(pb2.read_text()))
    grpc_file.write_text(_strip_grpc(grpc_file.read_text()))
    return [pb2, grpc_file]


def main() -> int:
    for path in regenerate():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
