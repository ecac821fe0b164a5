# Sourced by the cargo end-to-end tests: skips (exit 77) without cargo or Debian's crates,
# reads the test services, makes a temporary copy of cargo_project wired to Debian's
# librust-*-dev crates (a directory source), points CARGO_HOME and HOME into it (rustup's
# toolchains stay where they are) and cd's into the project. Sets $work (removed on exit).
command -v cargo >/dev/null || { echo "cargo not installed: skipping"; exit 77; }
[ -n "$(ls -d /usr/share/cargo/registry/serde-1.* 2>/dev/null)" ] \
  || { echo "Debian's librust-serde-dev is not installed: skipping"; exit 77; }
. "$REGCACHE_SERVICES_DIR/services.env"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$(dirname "${BASH_SOURCE[0]}")/cargo_project" "$work/proj"
mkdir -p "$work/proj/.cargo"
cat > "$work/proj/.cargo/config.toml" <<CFG
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
CFG
[ -d "$HOME/.rustup" ] && export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export CARGO_HOME="$work/cargo-home" HOME="$work/home"
unset CARGO_TARGET_DIR REGCACHE_STORE GITHUB_WORKSPACE CI_PROJECT_DIR \
  BUILDKITE_BUILD_CHECKOUT_PATH BITBUCKET_CLONE_DIR CIRCLE_WORKING_DIRECTORY DRONE_WORKSPACE
mkdir -p "$HOME" "$CARGO_HOME"
cd "$work/proj"
