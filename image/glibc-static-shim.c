/* Linked into the static breakwater binary by tools/image.
 *
 * The libc crate (0.2.191) names some glibc functions with a symbol version
 * (link_name = "cfsetspeed@GLIBC_2.2.5" on x86_64-linux-gnu). A static
 * glibc (libc.a) has no symbol versions, so a +crt-static link fails with
 * "undefined symbol: cfsetspeed@GLIBC_2.2.5" (nix's termios, used for the
 * serial console). This defines the versioned names as the plain ones.
 */
#include <termios.h>

int bw_cfsetspeed(struct termios *t, speed_t s) { return cfsetspeed(t, s); }
__asm__(".symver bw_cfsetspeed, cfsetspeed@GLIBC_2.2.5");
