#!/usr/bin/env python3
"""Helpers for tools/image (Python 3 stdlib only).

  image-helper.py profile PROFILE.toml            -> shell assignments (board facts)
  image-helper.py modules KROOT ABI NAME...       -> paths (relative to KROOT) of the
                                                     modules, their modules.dep closure
                                                     and softdeps (via modules.alias)
  image-helper.py cpio DIR EPOCH                  -> cpio newc archive on stdout
  image-helper.py fix-vmdk FILE                   -> fixes the random CID of a vmdk
  image-helper.py ovf NAME VMDK DISK_BYTES        -> OVF descriptor on stdout
  image-helper.py manifest OUT.json KEY=VALUE... -- FILE...
"""
import hashlib
import json
import os
import re
import shlex
import stat
import sys
import tomllib


def norm(name):
    return name.replace("-", "_")


def cmd_profile(path):
    with open(path, "rb") as f:
        p = tomllib.load(f)
    mods = list(p.get("kernel_modules", []))
    wd = p.get("watchdog", {})
    if wd.get("softdog_fallback") and "softdog" not in mods:
        mods.append("softdog")
    boot = next((x for x in p.get("flash", []) if x.get("role") == "boot"), {})
    data = next((x for x in p.get("flash", []) if x.get("role") == "data"), {})
    run_as = p.get("run_as") or ""
    out = {
        "BOARD_NAME": p.get("name", ""),
        "BOARD_MODULES": " ".join(mods),
        "BOOT_LABEL": boot.get("label", "BW-BOOT"),
        "DATA_LABEL": data.get("label", "BW-DATA"),
        "RUN_AS": run_as,
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")


def cmd_modules(kroot, abi, names):
    base = os.path.join(kroot, "lib/modules", abi)
    dep = {}  # normalized name -> (relpath, [dep names])
    with open(os.path.join(base, "modules.dep")) as f:
        for line in f:
            if ":" not in line:
                continue
            mod, deps = line.split(":", 1)
            n = norm(re.sub(r"\.ko(\.[a-z]+)?$", "", os.path.basename(mod)))
            dnames = [norm(re.sub(r"\.ko(\.[a-z]+)?$", "", os.path.basename(d))) for d in deps.split()]
            dep[n] = (mod, dnames)
    builtin = set()
    try:
        with open(os.path.join(base, "modules.builtin")) as f:
            for line in f:
                builtin.add(norm(re.sub(r"\.ko$", "", os.path.basename(line.strip()))))
    except FileNotFoundError:
        pass
    aliases = {}
    with open(os.path.join(base, "modules.alias")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "alias":
                aliases.setdefault(norm(parts[1]), []).append(norm(parts[2]))
    softdeps = {}
    try:
        with open(os.path.join(base, "modules.softdep")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "softdep":
                    softdeps[norm(parts[1])] = [norm(x) for x in parts[2:] if x not in ("pre:", "post:")]
    except FileNotFoundError:
        pass

    def resolve(n):
        if n in dep or n in builtin:
            return [n]
        return aliases.get(n, [])

    seen, out, missing = set(), [], []
    todo = [norm(n) for n in names]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in builtin:
            continue
        if n not in dep:
            missing.append(n)
            continue
        out.append(dep[n][0])
        todo.extend(dep[n][1])
        for s in softdeps.get(n, []):
            for r in resolve(s):
                todo.append(r)
    for m in missing:
        print(f"image-helper: module {m} not in this kernel (neither built in nor a module)", file=sys.stderr)
    for path in sorted(set(out)):
        print(path)
    return 1 if any(norm(n) in missing for n in names) else 0


def cmd_cpio(root, epoch):
    epoch = int(epoch)
    out = sys.stdout.buffer
    ino = 1

    def entry(name, mode, data=b"", nlink=1):
        nonlocal ino
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(
            f"{v:08X}"
            for v in (ino, mode, 0, 0, nlink, epoch, len(data), 0, 0, 0, 0, len(nb), 0)
        )
        ino += 1
        buf = hdr.encode() + nb
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(buf) % 4)
        out.write(buf)

    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in dirnames + sorted(filenames):
            paths.append(os.path.join(dirpath, n))
    for p in sorted(paths, key=lambda s: os.path.relpath(s, root)):
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            entry(rel, stat.S_IFDIR | perm, nlink=2)
        elif stat.S_ISLNK(st.st_mode):
            entry(rel, stat.S_IFLNK | 0o777, os.readlink(p).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                entry(rel, stat.S_IFREG | perm, f.read())
    entry("TRAILER!!!", 0, nlink=1)
    out.flush()


def cmd_fix_vmdk(path):
    # qemu-img puts a random CID in the descriptor; fix it (same length).
    with open(path, "r+b") as f:
        head = f.read(1 << 20)
        m = re.search(rb"\nCID=([0-9a-f]{8})\n", head)
        if m:
            f.seek(m.start(1))
            f.write(b"b7ea0a7e")


def cmd_ovf(name, vmdk, disk_bytes):
    vmdk_size = os.path.getsize(vmdk)
    href = os.path.basename(vmdk)
    nics = ["Management", "Data 1", "Data 2"]
    items = []
    iid = 1

    def item(body):
        nonlocal iid
        items.append(f"      <Item>\n{body}        <rasd:InstanceID>{iid}</rasd:InstanceID>\n      </Item>")
        iid += 1

    item("        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n"
         "        <rasd:Description>Number of virtual CPUs</rasd:Description>\n"
         "        <rasd:ElementName>2 virtual CPUs</rasd:ElementName>\n"
         "        <rasd:ResourceType>3</rasd:ResourceType>\n"
         "        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n")
    item("        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n"
         "        <rasd:Description>Memory Size</rasd:Description>\n"
         "        <rasd:ElementName>4096MB of memory</rasd:ElementName>\n"
         "        <rasd:ResourceType>4</rasd:ResourceType>\n"
         "        <rasd:VirtualQuantity>4096</rasd:VirtualQuantity>\n")
    sata = iid
    item("        <rasd:Description>SATA Controller</rasd:Description>\n"
         "        <rasd:ElementName>sataController0</rasd:ElementName>\n"
         "        <rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType>\n"
         "        <rasd:ResourceType>20</rasd:ResourceType>\n")
    item("        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n"
         "        <rasd:ElementName>disk0</rasd:ElementName>\n"
         "        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>\n"
         f"        <rasd:Parent>{sata}</rasd:Parent>\n"
         "        <rasd:ResourceType>17</rasd:ResourceType>\n")
    for i, nic in enumerate(nics):
        item(f"        <rasd:AddressOnParent>{7 + i}</rasd:AddressOnParent>\n"
             "        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n"
             f"        <rasd:Connection>{nic}</rasd:Connection>\n"
             f"        <rasd:Description>VmxNet3 ethernet adapter on &quot;{nic}&quot;</rasd:Description>\n"
             f"        <rasd:ElementName>{nic}</rasd:ElementName>\n"
             "        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>\n"
             "        <rasd:ResourceType>10</rasd:ResourceType>\n")
    item("        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n"
         "        <rasd:Description>Serial port (the appliance console, 115200 8N1)</rasd:Description>\n"
         "        <rasd:ElementName>serial0</rasd:ElementName>\n"
         "        <rasd:ResourceType>21</rasd:ResourceType>\n")
    networks = "\n".join(
        f'    <Network ovf:name="{n}">\n      <Description>The {n} network</Description>\n    </Network>'
        for n in nics)
    print(f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="breakwater" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="{href}" ovf:id="file1" ovf:size="{vmdk_size}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="{disk_bytes}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
{networks}
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>Breakwater email security gateway (virtual appliance)</Info>
    <Name>{name}</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="other5xLinux64Guest">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
{chr(10).join(items)}
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>""")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_manifest(out, args):
    sep = args.index("--")
    kv = dict(a.split("=", 1) for a in args[:sep])
    files = {}
    for p in args[sep + 1:]:
        st = os.stat(p)
        files[os.path.basename(p)] = {
            "size": st.st_size,
            "allocated": st.st_blocks * 512,
            "sha256": sha256(p),
        }
    comp = {k[5:]: v for k, v in kv.items() if k.startswith("comp.")}
    other = {k: v for k, v in kv.items() if not k.startswith("comp.")}
    doc = dict(other)
    doc["components"] = comp
    doc["files"] = files
    with open(out, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__, file=sys.stderr)
        return 2
    c = a[0]
    if c == "profile":
        cmd_profile(a[1])
    elif c == "modules":
        return cmd_modules(a[1], a[2], a[3:])
    elif c == "cpio":
        cmd_cpio(a[1], a[2])
    elif c == "fix-vmdk":
        cmd_fix_vmdk(a[1])
    elif c == "ovf":
        cmd_ovf(a[1], a[2], a[3])
    elif c == "manifest":
        cmd_manifest(a[1], a[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
