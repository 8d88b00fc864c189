# dtt_module(<folder> DEPS <targets...>)
# Builds every <folder>/*.cpp (recursively) into the static library dtt_<folder>. Folders that have
# no sources yet produce an INTERFACE library so that dependants link regardless.
function(dtt_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/${name}/*.cpp")
  set(deps)
  foreach(d IN LISTS ARG_DEPS)
    if(TARGET ${d})
      list(APPEND deps ${d})
    endif()
  endforeach()
  if(srcs)
    add_library(dtt_${name} STATIC ${srcs})
    # The source tree is on the include path only while building (installed, the static
    # libraries serve dtt::dtt, whose headers are include/dtt/).
    target_include_directories(dtt_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                                  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
    target_link_libraries(dtt_${name} PUBLIC ${deps})
  else()
    add_library(dtt_${name} INTERFACE)
    target_include_directories(dtt_${name} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                                     $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
    target_link_libraries(dtt_${name} INTERFACE ${deps})
  endif()
endfunction()
