#!/bin/sh
# Regenerates the signed RPM test repository in this directory (see README.md): a fresh
# test key (gpg), five synthetic packages (rpmbuild, from the spec files written below),
# their header signatures (rpmsign), the repodata (createrepo_c) and the detached
# signature of repomd.xml (gpg). Needs Debian's rpm, createrepo-c and gnupg packages.
# The packages are synthetic: they carry the names of a minimal RPM system (a release
# package, filesystem, setup, glibc) so that Plinth's `micro` profile resolves against
# them, but their files are a few lines of text written here, not a distribution's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg" SOURCE_DATE_EPOCH=1700000000 TZ=UTC LC_ALL=C
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key \
    'Plinth RPM Test Repository <rpm-test@plinth.example>' rsa2048 sign never
gpg --batch --armor --export > "$work/RPM-GPG-KEY-plinth-test"

common='
Release: 1.el8
License: Apache-2.0
Summary: Synthetic Plinth test package
AutoReqProv: no
%define debug_package %{nil}
%define __os_install_post %{nil}
%description
A synthetic package of the Plinth RPM test repository (tests/data/repos/rpm-test).
'
spec() { # NAME VERSION ARCH EXTRA-HEADERS INSTALL FILES
    printf 'Name: %s\nVersion: %s\nBuildArch: %s\n%s\n%s\n%%install\n%s\n%%files\n%s\n' \
        "$1" "$2" "$3" "$4" "$common" "$5" "$6" > "$work/$1.spec"
}

spec plinth-test-release 1.0 noarch 'Provides: system-release = 1.0
Provides: system-release(releasever) = 1' '
mkdir -p %{buildroot}/etc
cat > %{buildroot}/etc/os-release <<END
NAME="Plinth RPM Test"
ID="plinth-rpm-test"
ID_LIKE="rhel fedora"
VERSION_ID="1.0"
PRETTY_NAME="Plinth RPM Test 1.0 (synthetic)"
END
echo "Plinth RPM Test release 1.0 (synthetic)" > %{buildroot}/etc/system-release
ln -s system-release %{buildroot}/etc/redhat-release' '
/etc/os-release
/etc/system-release
/etc/redhat-release'

spec setup 2.12.2 noarch 'Requires: system-release' '
mkdir -p %{buildroot}/etc
printf "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nplinthsvc:x:987:986:Plinth test service:/var/lib/plinth-hello:/sbin/nologin\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n" > %{buildroot}/etc/passwd
printf "root:x:0:\nbin:x:1:\ndaemon:x:2:\nplinthsvc:x:986:\nnobody:x:65534:\n" > %{buildroot}/etc/group
echo /bin/sh > %{buildroot}/etc/shells' '
%config(noreplace) /etc/passwd
%config(noreplace) /etc/group
%config(noreplace) /etc/shells'

spec filesystem 3.8 x86_64 'Requires: setup' '
mkdir -p %{buildroot}/etc %{buildroot}/usr/bin %{buildroot}/usr/sbin %{buildroot}/usr/lib64 \
    %{buildroot}/var/lib %{buildroot}/tmp %{buildroot}/root %{buildroot}/home
ln -s usr/bin %{buildroot}/bin
ln -s usr/sbin %{buildroot}/sbin
ln -s usr/lib64 %{buildroot}/lib64' '
%dir /etc
%dir /usr
%dir /usr/bin
%dir /usr/sbin
%dir /usr/lib64
%dir /var
%dir /var/lib
%attr(1777,root,root) %dir /tmp
%attr(0550,root,root) %dir /root
%dir /home
/bin
/sbin
/lib64'

spec glibc 2.28 x86_64 'Requires: filesystem
Requires: (setup if filesystem)
Provides: libc.so.6()(64bit)
Provides: rtld(GNU_HASH)' '
mkdir -p %{buildroot}/usr/lib64 %{buildroot}/usr/sbin
echo "synthetic libc 2.28" > %{buildroot}/usr/lib64/libc-2.28.so
ln %{buildroot}/usr/lib64/libc-2.28.so %{buildroot}/usr/lib64/libc.so.6
echo "synthetic ld.so" > %{buildroot}/usr/lib64/ld-2.28.so
ln -s ld-2.28.so %{buildroot}/usr/lib64/ld-linux-x86-64.so.2
printf "#!/bin/sh\nexit 0\n" > %{buildroot}/usr/sbin/ldconfig
chmod 755 %{buildroot}/usr/sbin/ldconfig %{buildroot}/usr/lib64/ld-2.28.so' '
/usr/lib64/libc-2.28.so
/usr/lib64/libc.so.6
/usr/lib64/ld-2.28.so
/usr/lib64/ld-linux-x86-64.so.2
/usr/sbin/ldconfig
%ghost /etc/ld.so.cache'

spec plinth-hello 1.0 x86_64 'Requires: /usr/sbin/ldconfig
Requires: libc.so.6()(64bit)
Requires: glibc >= 2.28
Requires: setup' '
mkdir -p %{buildroot}/usr/bin %{buildroot}/var/lib/plinth-hello
printf "#!/bin/sh\necho hello from plinth-hello\n" > %{buildroot}/usr/bin/plinth-hello
chmod 4755 %{buildroot}/usr/bin/plinth-hello
echo state > %{buildroot}/var/lib/plinth-hello/state
echo orphan > %{buildroot}/var/lib/plinth-hello/orphan' '
/usr/bin/plinth-hello
%attr(0750,plinthsvc,plinthsvc) %dir /var/lib/plinth-hello
%attr(0640,plinthsvc,daemon) /var/lib/plinth-hello/state
%attr(0644,nosuchuser,nosuchgroup) /var/lib/plinth-hello/orphan'

gpg_bin=$(command -v gpg)
rm -rf "$here/x86_64" "$here/noarch" "$here/repodata" "$here/RPM-GPG-KEY-plinth-test"
for s in "$work"/*.spec; do
    rpmbuild --quiet --define "_topdir $work/rpmbuild" --define '_buildhost plinth.example' \
        --define 'use_source_date_epoch_as_buildtime 1' --define 'clamp_mtime_to_source_date_epoch 1' \
        --define '_binary_payload w19.zstdio' --target x86_64 -bb "$s" 2>&1 |
        grep -v 'warning: user nosuchuser\|warning: group nosuchgroup\|warning: user plinthsvc\|warning: group plinthsvc' || true
done
for d in x86_64 noarch; do
    mkdir -p "$here/$d"
    for r in "$work/rpmbuild/RPMS/$d"/*.rpm; do
        cp "$r" "$here/$d/"
        rpmsign --define '_gpg_name Plinth RPM Test Repository' --define "__gpg $gpg_bin" \
            --addsign "$here/$d/$(basename "$r")" >/dev/null
    done
done
createrepo_c --quiet --no-database --revision 1700000000 --set-timestamp-to-revision "$here"
gpg --batch --armor --detach-sign -o "$here/repodata/repomd.xml.asc" "$here/repodata/repomd.xml"
cp "$work/RPM-GPG-KEY-plinth-test" "$here/"
echo "wrote $here"
