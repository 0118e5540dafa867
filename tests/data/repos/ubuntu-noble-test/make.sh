#!/usr/bin/env bash
# Regenerates this directory: a small Ubuntu-style archive (suites noble, noble-updates,
# noble-security; component main; amd64) of SYNTHETIC packages, signed by a key made for
# it. See README.md. Needs dpkg-deb, gpg, gzip, sha256sum. Run from anywhere:
#   tests/data/repos/ubuntu-noble-test/make.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"
rm -rf dists pool key.asc
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Plinth Ubuntu test archive <ubuntu-test@plinth.invalid>' rsa2048 sign never
gpg --batch --quiet --armor --export ubuntu-test@plinth.invalid > key.asc

# deb NAME VERSION ARCH SUITE "FIELDS" FILE=CONTENT...
deb() {
    local name=$1 version=$2 arch=$3 suite=$4 fields=$5
    shift 5
    local root=$WORK/$name-$version
    mkdir -p "$root/DEBIAN"
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Plinth test <ubuntu-test@plinth.invalid>\nOrigin: Ubuntu\n%bDescription: synthetic %s for Plinth tests\n' \
        "$name" "$version" "$arch" "$fields" "$name" > "$root/DEBIAN/control"
    local md5=""
    for f in "$@"; do
        local path=${f%%=*} content=${f#*=}
        mkdir -p "$root/$(dirname "$path")"
        printf '%s\n' "$content" > "$root/$path"
    done
    (cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 -r md5sum > DEBIAN/md5sums)
    local pool=pool/main/${name:0:1}/$name
    mkdir -p "$pool"
    local out=$pool/${name}_${version//:/%3a}_$arch.deb
    dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" >/dev/null
    local size sha
    size=$(stat -c %s "$out")
    sha=$(sha256sum "$out" | cut -d' ' -f1)
    { cat "$root/DEBIAN/control"; printf 'Filename: %s\nSize: %s\nSHA256: %s\n\n' "$out" "$size" "$sha"; } >> "$WORK/Packages.$suite"
}

touch "$WORK/Packages.noble" "$WORK/Packages.noble-updates" "$WORK/Packages.noble-security"
deb base-files 13ubuntu10 amd64 noble 'Essential: yes\nPriority: required\n' \
    'usr/share/base-files/motd=Welcome to a synthetic Ubuntu test package.' \
    'usr/share/doc/base-files/copyright=Synthetic test data, CC0.'
deb base-files 13ubuntu10.1 amd64 noble-updates 'Essential: yes\nPriority: required\n' \
    'usr/share/base-files/motd=Welcome to a synthetic Ubuntu test package (update).' \
    'usr/share/doc/base-files/copyright=Synthetic test data, CC0.'
deb netbase 6.4 all noble 'Priority: important\n' \
    'etc/protocols=ip	0	IP' 'etc/services=http		80/tcp		www' \
    'usr/share/doc/netbase/copyright=Synthetic test data, CC0.'
deb tzdata 2024a-2ubuntu1 all noble 'Priority: important\n' \
    'usr/share/zoneinfo/Etc/UTC=TZif synthetic' 'usr/share/doc/tzdata/copyright=Synthetic test data, CC0.'
deb tzdata 2025b-0ubuntu0.24.04.1 all noble-security 'Priority: important\n' \
    'usr/share/zoneinfo/Etc/UTC=TZif synthetic (security update)' 'usr/share/doc/tzdata/copyright=Synthetic test data, CC0.'
deb media-types 10.1.0 all noble 'Priority: important\n' \
    'etc/mime.types=text/plain txt' 'usr/share/doc/media-types/copyright=Synthetic test data, CC0.'
deb ca-certificates 20240203 all noble 'Priority: important\n' \
    'usr/share/ca-certificates/mozilla/Plinth_Test_Root.crt=-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUSynthetic0000000000000000000000wCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----' 'usr/share/doc/ca-certificates/copyright=Synthetic test data, CC0.'
deb libc6 2.39-0ubuntu8 amd64 noble 'Priority: optional\nMulti-Arch: same\nDepends: libgcc-s1\n' \
    'usr/lib/x86_64-linux-gnu/libc.so.6=synthetic, not a library' 'usr/share/doc/libc6/copyright=Synthetic test data, CC0.'
deb libgcc-s1 14-20240412-0ubuntu1 amd64 noble 'Priority: optional\nMulti-Arch: same\n' \
    'usr/lib/x86_64-linux-gnu/libgcc_s.so.1=synthetic, not a library' 'usr/share/doc/libgcc-s1/copyright=Synthetic test data, CC0.'
deb libssl3t64 3.0.13-0ubuntu3 amd64 noble 'Priority: optional\nMulti-Arch: same\nDepends: libc6\n' \
    'usr/lib/x86_64-linux-gnu/libssl.so.3=synthetic, not a library' 'usr/share/doc/libssl3t64/copyright=Synthetic test data, CC0.'

for suite in noble noble-updates noble-security; do
    dist=dists/$suite
    mkdir -p "$dist/main/binary-amd64" "$dist/main/binary-all"
    cp "$WORK/Packages.$suite" "$dist/main/binary-amd64/Packages"
    gzip -9n < "$dist/main/binary-amd64/Packages" > "$dist/main/binary-amd64/Packages.gz"
    : > "$dist/main/binary-all/Packages"
    {
        printf 'Origin: Ubuntu\nLabel: Ubuntu\nSuite: %s\nVersion: 24.04\nCodename: noble\n' "$suite"
        printf 'Date: Tue, 01 Dec 2026 00:00:00 UTC\nArchitectures: amd64 all\nComponents: main\n'
        printf 'Description: Synthetic Ubuntu 24.04 test archive for Plinth\nSHA256:\n'
        for f in main/binary-amd64/Packages main/binary-amd64/Packages.gz main/binary-all/Packages; do
            printf ' %s %s %s\n' "$(sha256sum "$dist/$f" | cut -d' ' -f1)" "$(stat -c %s "$dist/$f")" "$f"
        done
    } > "$dist/Release"
    gpg --batch --quiet --clearsign --output "$dist/InRelease" "$dist/Release"
    rm "$dist/Release"
done
echo "ubuntu-noble-test: regenerated; the key changed, so commit key.asc with the rest"
