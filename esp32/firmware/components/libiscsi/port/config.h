/*
 * config.h — libiscsi's autoconf results, written by hand for ESP-IDF (newlib C
 * library, lwIP sockets through the VFS). Only the macros libiscsi 1.19's lib/ and
 * include/ test are set. No pthreads (the bridge drives one context from one task,
 * so HAVE_MULTITHREADING stays off), no gnutls/gcrypt: lib/md5.c serves CHAP.
 */
#ifndef LIBISCSI_ESP_CONFIG_H
#define LIBISCSI_ESP_CONFIG_H

#define HAVE_ARPA_INET_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_NETINET_IN_H 1
#define HAVE_POLL_H 1          /* ESP-IDF: poll() over the VFS select() */
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STDATOMIC_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_UIO_H 1       /* port/include/sys/uio.h if the IDF lacks one */
#define HAVE_UNISTD_H 1
#define HAVE_CLOCK_GETTIME 1
#define HAVE_SOCKADDR_IN6 1    /* lwIP with CONFIG_LWIP_IPV6 (default on) */
#define NEED_MD5 1
#define SELECT_TIMEVAL_TYPE struct timeval *

#define PACKAGE "libiscsi"
#define PACKAGE_VERSION "1.19.0"
#define VERSION "1.19.0"

#endif
