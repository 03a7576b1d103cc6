/* parts/data_decl.h: development fragment of genrep.h, inlined before release */
