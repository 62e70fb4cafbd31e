/* Helpers shared by the files of the stasis_native addon (defined in addon.c). */
#ifndef STASIS_ADDON_H
#define STASIS_ADDON_H
#include <node_api.h>
#include <stdint.h>
#include "../common/fdpass.h"

/* Upper bound on fds carried by one message or given to one spawned child. */
#define MAX_FDS FDPASS_MAX

napi_value throw_errno(napi_env env, const char *syscall_name, int err);
napi_value throw_type(napi_env env, const char *msg);
int get_int(napi_env env, napi_value v, const char *what, int32_t *out);
void get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
napi_value make_int(napi_env env, int32_t v);
int get_fd_array(napi_env env, napi_value v, int *out);

/* spawn.c */
napi_value js_spawn(napi_env env, napi_callback_info info);
napi_value js_stream_pair(napi_env env, napi_callback_info info);
napi_value js_sealed_copy(napi_env env, napi_callback_info info);
napi_value js_exit_now(napi_env env, napi_callback_info info);

/* warm.c */
napi_value js_listen_seqpacket(napi_env env, napi_callback_info info);
napi_value js_accept_watch(napi_env env, napi_callback_info info);
napi_value js_peer_cred(napi_env env, napi_callback_info info);
napi_value js_dup2(napi_env env, napi_callback_info info);
#endif
