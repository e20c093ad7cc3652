#!/usr/bin/env bash
# Installs one Python environment's requirements within its lock file's pins:
#   requirements/install.sh PYTHON REQUIREMENTS LOCK
# With uv where it installs (it downloads and unpacks in parallel: the Rasa environment takes
# seconds instead of two minutes), with pip where it does not.
set -u
UV_VERSION=0.13.9
python=$1 requirements=$2 lock=$3
uv=$(dirname "$python")/uv
if "$python" -m pip install --quiet "uv==$UV_VERSION" &&
	"$uv" pip install --quiet --compile-bytecode --python "$python" -r "$requirements" -c "$lock"; then
	exit 0
fi
echo "install.sh: uv could not install $requirements; installing with pip" >&2
"$python" -m pip install --quiet --upgrade pip
exec "$python" -m pip install --quiet -r "$requirements" -c "$lock"
