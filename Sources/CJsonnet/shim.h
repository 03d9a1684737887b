#include <libjsonnet.h>
