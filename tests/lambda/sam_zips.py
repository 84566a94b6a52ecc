#!/usr/bin/env python3
"""Zips each function of `sam build`'s output the way `sam package` and
`sam deploy` do, and checks that each holds the right binary.

    sam_zips.py BUILD_DIR OUT_DIR

BUILD_DIR is `sam build`'s output (infra/.aws-sam/build): its template.yaml names
each function's folder (CodeUri, rewritten by the build to the logical id) and
keeps the function's Metadata, whose BuildProperties.Binary is the crate that
`sam build` compiled for it. For every AWS::Serverless::Function it checks that:
- the folder holds exactly `bootstrap`, an arm64 ELF executable (Lambda's
  provided.al2023 on Graviton runs nothing else);
- the bootstrap is its own crate's binary: it carries the source paths of
  `functions/<binary>/src/` (in panic locations and log call sites) and those of
  no other function, so two functions given the same binary fail here;
then writes OUT_DIR/<binary>.zip with the SAM CLI's own zip function (the one
`sam package` applies to a function's folder: `bootstrap` at the root, its mode
kept and made at least world-readable and -executable), and checks that the zip
holds only an executable `bootstrap` whose bytes are the built file's.

Prints one line per function: logical id, binary, bootstrap bytes, zip bytes.
Run with the SAM CLI's virtualenv's Python (it imports samcli)."""
import os
import sys
import zipfile

from samcli.lib.package.utils import make_zip_with_lambda_permissions
from samcli.yamlhelper import parse_yaml_file

EM_AARCH64 = 183


def fail(message: str) -> None:
    sys.exit(f"sam_zips.py: {message}")


def is_arm64_executable(data: bytes) -> bool:
    # ELF magic, 64-bit, little-endian, e_type ET_EXEC or ET_DYN, e_machine AArch64.
    return (
        data[:4] == b"\x7fELF"
        and data[4] == 2
        and data[5] == 1
        and int.from_bytes(data[16:18], "little") in (2, 3)
        and int.from_bytes(data[18:20], "little") == EM_AARCH64
    )


def main() -> int:
    build_dir, out_dir = sys.argv[1], sys.argv[2]
    template = parse_yaml_file(os.path.join(build_dir, "template.yaml"))
    functions = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = (resource.get("Metadata") or {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            fail(f"{logical_id} has no Metadata.BuildProperties.Binary in the built template")
        code_uri = resource.get("Properties", {}).get("CodeUri")
        if not isinstance(code_uri, str):
            fail(f"{logical_id} has no CodeUri folder in the built template")
        functions[logical_id] = (binary, os.path.join(build_dir, code_uri))
    if not functions:
        fail("no AWS::Serverless::Function in the built template")
    binaries = [binary for binary, _ in functions.values()]
    if len(set(binaries)) != len(binaries):
        fail(f"two functions share a binary: {sorted(binaries)}")

    os.makedirs(out_dir, exist_ok=True)
    for logical_id, (binary, folder) in functions.items():
        entries = sorted(os.listdir(folder))
        if entries != ["bootstrap"]:
            fail(f"{logical_id}: {folder} holds {entries}, not only bootstrap")
        path = os.path.join(folder, "bootstrap")
        with open(path, "rb") as f:
            data = f.read()
        if not is_arm64_executable(data):
            fail(f"{logical_id}: {path} is not an arm64 ELF executable")
        own = f"functions/{binary}/src/".encode()
        if own not in data:
            fail(f"{logical_id}: {path} does not carry {own.decode()}: not {binary}'s binary")
        for other in binaries:
            if other != binary and f"functions/{other}/src/".encode() in data:
                fail(f"{logical_id}: {path} carries functions/{other}/src/: {other}'s code")

        zip_path = make_zip_with_lambda_permissions(os.path.join(out_dir, binary), folder)
        with zipfile.ZipFile(zip_path) as z:
            infos = z.infolist()
            if [i.filename for i in infos] != ["bootstrap"]:
                fail(f"{zip_path} holds {[i.filename for i in infos]}, not only bootstrap")
            mode = infos[0].external_attr >> 16
            if mode & 0o111 != 0o111:
                fail(f"{zip_path}: bootstrap has mode {oct(mode)}, not executable")
            if z.read("bootstrap") != data:
                fail(f"{zip_path}: bootstrap differs from {path}")
        print(f"{logical_id} {binary} {len(data)} {os.path.getsize(zip_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
