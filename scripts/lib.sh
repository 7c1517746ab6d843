# Shared by the scripts: install what is missing, configure and build. Source it; do not run it.

# Debian packages the build and tests need (pinned to Debian 12's versions by the distribution).
GGUF_CROSSVAL_PACKAGES=(cmake ninja-build g++ clang libclang-rt-14-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libxxhash-dev xxhash libssl-dev libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy python3-jsonschema python3-yaml
  nodejs npm git libxml2-utils time util-linux)

say() { printf '==> %s\n' "$*" >&2; }

# Install the Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  for p in "${GGUF_CROSSVAL_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # nodejs/npm may come from elsewhere on a machine (a node install outside dpkg): accept that.
  local filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null || filtered+=("$p") ;;
      npm) command -v npm >/dev/null || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  ((${#filtered[@]})) || return 0
  say "installing Debian packages: ${filtered[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
}

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# configure_and_build PRESET: configure (once) and build with the preset.
configure_and_build() {
  local preset=$1
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
