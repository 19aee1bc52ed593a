/*
 * media_int.h — what the media module's two files share: starting and stopping libvips and the blob store.
 */
#ifndef MER_MEDIA_INT_H
#define MER_MEDIA_INT_H

/* Starts libvips and opens the blob store under dir. Start-up only; 0 or -1 (logged). */
int mer_media_start(const char *dir);
/* Closes the blob store and stops libvips, once no job can use them. */
void mer_media_finish(void);

#endif
