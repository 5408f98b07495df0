#!/bin/sh
# check-portable.sh — the bridge core's portability check (issue 12, acceptance 5).
# 1. Every core file compiles with -std=c11 -Wall -Wextra -Werror -pedantic and no
#    feature macros (no _GNU_SOURCE/_POSIX_C_SOURCE from the build).
# 2. The portable files and headers (all but platform_posix.c and transport_iscsi.c) include
#    directly only C11 standard headers that exist on a bare toolchain (stdint.h,
#    stddef.h, stdbool.h, string.h, stdarg.h, stdatomic.h) and the core's own headers.
# 3. No core file but platform_posix.c reaches a Linux header (linux/, asm/,
#    asm-generic/) at any depth of its include tree (gcc -H lists it).
# Prints cmocka-style "[  PASSED  ]"/"[  FAILED  ]" lines so the suite counts it.
cd "$(dirname "$0")" || exit 1
CC=${CC:-cc}
allowed="stdint.h stddef.h stdbool.h string.h stdarg.h stdatomic.h"
pass=0 fail=0
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
for f in *.c *.h; do
	ok=1
	if ! $CC -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -H -I. -x c "$f" 2>"$tmp"; then
		grep -v '^\.' "$tmp"
		echo "check-portable: $f does not compile with -std=c11 -Wall -Wextra -Werror -pedantic"
		ok=0
	fi
	case $f in
	platform_posix.c) ;;
	*)
		bad=$(grep -E '^\.+ .*/(linux|asm|asm-generic)/' "$tmp")
		if [ -n "$bad" ]; then
			echo "check-portable: $f reaches Linux headers:"; echo "$bad"; ok=0
		fi ;;
	esac
	case $f in
	platform_posix.c|transport_iscsi.c) ;;
	*)
		for h in $(sed -n 's/^\. //p' "$tmp"); do
			base=${h##*/}
			case " $allowed " in *" $base "*) continue ;; esac
			[ "$h" = "./$base" ] || [ "$h" = "$base" ] && [ -f "$base" ] && continue
			echo "check-portable: $f includes $h (not a C11 standard header of the allowed set, not a core header)"
			ok=0
		done ;;
	esac
	if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "[  FAILED  ] check-portable $f"; fi
done
echo "[==========] check-portable: $((pass + fail)) core file(s) and header(s) checked."
echo "[  PASSED  ] $pass test(s)."
[ $fail = 0 ] || { echo "[  FAILED  ] $fail test(s)."; exit 1; }
