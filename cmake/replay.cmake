# Helpers shared by every CMakeLists.txt of the project.
#
# replay_target_flags(T)       our warning set (and -Werror), applied PRIVATE.
# replay_add_module(NAME SRC DEPS ... PKGS ...)
#                              one module of libreplay = one static library
#                              replay_<NAME>, so a module builds and tests on its own.
# replay_add_unit_test(NAME SOURCES ... DEPS ...)
#                              a cmocka executable registered as ctest unit.<NAME>.
# replay_add_script_test(NAME SCRIPT LABELS ... TIMEOUT s)
#                              a bash test run by ctest with the build dir in its env.

set(REPLAY_WARNINGS -Wall -Wextra -Wstrict-prototypes -Wwrite-strings -Wshadow
    -Wformat=2 -Wno-missing-field-initializers)
if(REPLAY_WERROR)
  list(APPEND REPLAY_WARNINGS -Werror)
endif()

if(REPLAY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# The fuzz build instruments every target for coverage (the fuzz targets add the
# libFuzzer runtime themselves), so branches inside the libraries guide the fuzzer.
if(REPLAY_BUILD_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

function(replay_target_flags target)
  target_compile_options(${target} PRIVATE ${REPLAY_WARNINGS})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE
    REPLAY_VERSION="${PROJECT_VERSION}")
  if(REPLAY_TEST_HOOKS)
    target_compile_definitions(${target} PRIVATE REPLAY_TEST_HOOKS=1)
  endif()
endfunction()

function(replay_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PKGS" ${ARGN})
  add_library(replay_${name} STATIC ${M_SOURCES})
  replay_target_flags(replay_${name})
  target_include_directories(replay_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/common/include
    PRIVATE ${PROJECT_SOURCE_DIR}/common/src)
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(replay_${name} PUBLIC replay_${dep})
  endforeach()
  foreach(pkg IN LISTS M_PKGS)
    target_link_libraries(replay_${name} PRIVATE ${pkg})
  endforeach()
  target_link_libraries(replay_${name} PUBLIC Threads::Threads)
  set_property(GLOBAL APPEND PROPERTY REPLAY_MODULES replay_${name})
endfunction()

function(replay_add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(test_${name} ${T_SOURCES})
  replay_target_flags(test_${name})
  target_include_directories(test_${name} PRIVATE ${PROJECT_SOURCE_DIR}/common/src
    ${PROJECT_SOURCE_DIR}/tests/unit)
  target_link_libraries(test_${name} PRIVATE ${T_DEPS} PkgConfig::CMOCKA)
  target_compile_definitions(test_${name} PRIVATE
    REPLAY_SOURCE_DIR_DEFAULT="${PROJECT_SOURCE_DIR}")
  add_test(NAME unit.${name} COMMAND test_${name})
  # MALLOC_PERTURB_: glibc fills new and freed blocks with a pattern, so a read of
  # memory never written fails here rather than passing on the zeros of fresh
  # pages (the sanitized build's allocator ignores it; ASan sees the freed side).
  set_tests_properties(unit.${name} PROPERTIES LABELS "unit;${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "REPLAY_SOURCE_DIR=${PROJECT_SOURCE_DIR};REPLAY_BUILD_DIR=${PROJECT_BINARY_DIR};MALLOC_PERTURB_=165")
endfunction()

function(replay_add_script_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT" "LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS integration)
  endif()
  add_test(NAME ${name} COMMAND bash ${T_SCRIPT})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "REPLAY_SOURCE_DIR=${PROJECT_SOURCE_DIR};REPLAY_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()
