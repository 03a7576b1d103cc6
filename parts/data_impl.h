/* parts/data_impl.h: development fragment of genrep.h, inlined before release */
