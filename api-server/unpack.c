/*
 * unpack.c — scsipub-unpack, the API's image decoder program (fetchunpack.h:
 * fetch_unpack_main): xz, gz and qcow2 (qemu-img) decoding of a downloaded image,
 * started by scsipub-api for each fetch, without network and with resource limits.
 */
#include "fetchunpack.h"

int main(int argc, char **argv)
{
	return fetch_unpack_main(argc, argv);
}
