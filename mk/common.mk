# Common build settings, included by every component Makefile.
# Objects and binaries go under $(BUILD)/<component>/, never into the source tree.
TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BUILD   ?= $(TOP)/build
CC      ?= cc
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror
OPT     ?= -O2 -g
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer (used by the unit tests).
ifeq ($(SAN),1)
  SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT      = -O1 -g
  BUILD   := $(BUILD)/san
endif
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
PKG_CONFIG ?= pkg-config
