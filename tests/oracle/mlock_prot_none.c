#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
static void vmlck(const char *tag){
  FILE *f=fopen("/proc/self/status","r"); char l[256];
  while(fgets(l,sizeof l,f)) if(!strncmp(l,"VmLck",5)||!strncmp(l,"VmRSS",5)) printf("%s %s",tag,l);
  fclose(f);
}
int main(void){
  size_t len=1<<21;
  char *p=mmap(0,len,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  errno=0; int r=mlock(p,len); printf("mlock(PROT_NONE) = %d errno %d (%s)\n", r, r?errno:0, r?strerror(errno):"");
  vmlck("after mlock:");
  r=munlock(p,len); printf("munlock = %d\n", r);
  char *q=mmap(0,len,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE,-1,0);
  printf("mmap(PROT_NONE|MAP_POPULATE) = %s errno %d\n", q==MAP_FAILED?"MAP_FAILED":"ok", q==MAP_FAILED?errno:0);
  char *s=mmap(0,len,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_LOCKED,-1,0);
  printf("mmap(PROT_NONE|MAP_LOCKED) = %s errno %d\n", s==MAP_FAILED?"MAP_FAILED":"ok", s==MAP_FAILED?errno:0);
  vmlck("after MAP_LOCKED:");
  r=mlockall(MCL_CURRENT); printf("mlockall(MCL_CURRENT) = %d errno %d\n", r, r?errno:0);
  char *t=mmap(0,len,PROT_READ,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  r=mlock(t,len); printf("mlock(PROT_READ) = %d errno %d\n", r, r?errno:0);
  vmlck("end:");
  return 0;
}
