# Sourced by install scripts that need packages from another Debian suite (sid's CRIU, trixie's
# checkpointctl) without touching the system's apt: its own config, sources, lists, cache and an empty dpkg
# status under a work directory. Usage: private_apt DIR SUITE MIRROR KEYRING — then APT_CONFIG is exported and
# apt-get/apt-cache only see that suite.
private_apt() {
  local A=$1 suite=$2 mirror=$3 keyring=$4
  mkdir -p "$A/etc/apt.conf.d" "$A/etc/preferences.d" "$A/etc/sources.list.d" "$A/etc/trusted.gpg.d" \
    "$A/lists/partial" "$A/cache/archives/partial" "$A/dpkg"
  : >"$A/dpkg/status"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nArchitectures: amd64\nSigned-By: %s\n' \
    "$mirror" "$suite" "$keyring" >"$A/etc/sources.list.d/$suite.sources"
  cat >"$A/apt.conf" <<CONF
Dir::Etc "$A/etc";
Dir::Etc::main "$A/apt.conf";
Dir::Etc::parts "$A/etc/apt.conf.d";
Dir::Etc::sourcelist "$A/etc/sources.list";
Dir::Etc::sourceparts "$A/etc/sources.list.d";
Dir::Etc::preferences "$A/etc/preferences";
Dir::Etc::preferencesparts "$A/etc/preferences.d";
Dir::Etc::trustedparts "$A/etc/trusted.gpg.d";
Dir::State "$A";
Dir::State::lists "$A/lists";
Dir::State::status "$A/dpkg/status";
Dir::Cache "$A/cache";
Dir::Cache::archives "$A/cache/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
// The mirror may serve a dated snapshot whose Release is past Valid-Until; signatures still count.
Acquire::Check-Valid-Until "false";
Acquire::IndexTargets::deb::DEP-11 { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-small { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::Contents-deb { DefaultEnabled "false"; };
Debug::NoLocking "true";
APT::Sandbox::User "root";
CONF
  export APT_CONFIG=$A/apt.conf
}
