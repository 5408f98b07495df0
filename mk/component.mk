# Rules shared by the component Makefiles; include it last, after setting:
#   OUT        the component's build directory ($(BUILD)/<component>)
#   LIB        its library (libX.a): every .c file but MAIN, plus EXTRAOBJS
#   BIN        its program: MAIN's object + LIB + DEPLIBS
#   MAIN       the program's source (default main.c)
#   DEPDIRS    component directories whose `make lib` runs first (same SAN setting)
#   DEPLIBS    the libraries those build, linked into BIN
#   EXTRAOBJS  generated objects that go into LIB too (optional)
#   EXTRABIN   a second program (optional), built from EXTRAMAIN's object + LIB + DEPLIBS
#   EXTRAMAIN  its source (left out of LIB like MAIN)
# A component without BIN (a library only) builds LIB for `all`.
# Targets: all (BIN), lib (LIB). Recipes use automatic variables only: common.mk's
# TOP/BUILD are expanded lazily and would resolve against the last included .d file.
MAIN    ?= main.c
LIBSRCS  = $(filter-out $(MAIN) $(EXTRAMAIN),$(wildcard *.c))
LIBOBJS  = $(patsubst %.c,$(OUT)/%.o,$(LIBSRCS)) $(EXTRAOBJS)
MAINOBJ  = $(OUT)/$(MAIN:.c=.o)

.PHONY: all lib deplibs
all: $(if $(BIN),$(OUT)/$(BIN),$(OUT)/$(LIB)) $(if $(EXTRABIN),$(OUT)/$(EXTRABIN))
lib: $(OUT)/$(LIB)

deplibs:
	$(foreach d,$(DEPDIRS),$(MAKE) -C $(d) SAN=$(SAN) lib &&) true

$(DEPLIBS): deplibs

$(OUT)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(OUT)/$(LIB): $(LIBOBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(OUT)/$(BIN): $(MAINOBJ) $(OUT)/$(LIB) $(DEPLIBS)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

ifneq ($(EXTRABIN),)
EXTRAMAINOBJ = $(OUT)/$(EXTRAMAIN:.c=.o)
$(OUT)/$(EXTRABIN): $(EXTRAMAINOBJ) $(OUT)/$(LIB) $(DEPLIBS)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)
endif

-include $(LIBOBJS:.o=.d) $(MAINOBJ:.o=.d) $(EXTRAMAINOBJ:.o=.d)
